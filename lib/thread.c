/* thread.c - placeholder, replaced below */
