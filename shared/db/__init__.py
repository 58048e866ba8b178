"""Database kit: the SQLAlchemy base, the shared models and the session factory."""
