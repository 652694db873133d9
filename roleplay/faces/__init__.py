"""The faces: the web app and the CLI, thin layers over the services."""
