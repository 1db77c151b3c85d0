/* monitor commands (todo) */
