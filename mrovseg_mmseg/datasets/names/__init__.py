"""Class-name tables of the benchmarks too long to write inline."""
