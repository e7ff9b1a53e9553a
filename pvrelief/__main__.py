from pvrelief.cli import app

app()
