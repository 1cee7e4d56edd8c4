from rendezvous.cli import app

app()
