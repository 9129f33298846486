"""Software factory: requirements in conversation -> a generated, tested program."""
