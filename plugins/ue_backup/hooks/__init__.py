"""Hooks of ue-backup, one file per external service."""
