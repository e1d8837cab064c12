"""Benchmarks (`make bench`, `flask mdt bench`): not imported by the application."""
