"""MT-Bench: its data (`data`), its gradings (`judge`) and its part of the report (`report`)."""
