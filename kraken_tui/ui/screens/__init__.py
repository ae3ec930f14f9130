"""The main screen and the modal screens pushed over it."""
