"""Two-party protocols on arithmetic shares, each with its cost stated in its docstring."""
