"""mpc/functions."""
