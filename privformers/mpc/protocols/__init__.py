"""mpc/protocols."""
