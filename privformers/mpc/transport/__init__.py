"""mpc/transport."""
