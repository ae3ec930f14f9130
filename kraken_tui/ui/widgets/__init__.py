"""One panel per module; each redraws only when the snapshot part it shows is replaced."""
