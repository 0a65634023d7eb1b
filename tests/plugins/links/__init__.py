"""Tests of ue_backup.links, one file per service."""
