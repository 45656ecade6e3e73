"""The relay: consume legacy notifications, publish what they become."""
