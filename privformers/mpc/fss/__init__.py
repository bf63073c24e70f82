"""mpc/fss."""
