"""The data plane: event store, ingestion, index build and membership. Imports neither FastAPI nor SQLAlchemy."""  # noqa: E501
