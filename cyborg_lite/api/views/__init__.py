"""Serializers shared by resources whose bodies are large enough to live apart."""
