"""The kit every Paceline service stands on; imports nothing from the services."""
