"""What runs inside the Crossbar router: authentication and authorization of sisock's roles."""
