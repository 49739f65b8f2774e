"""Arena-Hard-Auto v0.1 and v2.0: its part of the report (`report`); its data and games are still the library's."""
