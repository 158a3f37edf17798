// Replaced as the manage module lands.
