"""Participants (legal entities with identifiers in both ecosystems) and their sites."""

from pathlib import Path

from batpass.participants.model import GeoLocation, Participant, Site
from batpass.participants.service import ParticipantService

MIGRATIONS_DIR = Path(__file__).resolve().parent / "_migrations"

__all__ = ["MIGRATIONS_DIR", "GeoLocation", "Participant", "ParticipantService", "Site"]
