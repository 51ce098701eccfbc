"""Orchestration: getting a queued run executed on the bench host where its card is seated, and its card's work
done in a process of its own. Next to hardware/ (the device interface) and checks/ (the tests a card runs), which
know no Django; workers.py here must not either (a card's process imports it fresh)."""
