"""SHACL shapes (Turtle) and the validation gate."""
