"""Links between parties: in-process (tests) and TCP (separate processes or hosts)."""
