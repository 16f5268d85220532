"""kis-async."""
