"""Arena-Hard-Auto v0.1 and v2.0: its data (`data`), its games (`judge`) and its part of the report (`report`)."""
