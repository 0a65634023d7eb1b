"""Tests of ue_backup.sensors, one file per service."""
