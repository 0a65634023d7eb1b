"""Tests of ue_backup.triggers, one file per service."""
