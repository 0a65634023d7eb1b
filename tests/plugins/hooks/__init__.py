"""Tests of ue_backup.hooks, one file per service."""
