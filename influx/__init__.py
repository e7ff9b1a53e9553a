"""Everything that talks to InfluxDB: names (names.py), line protocol (lineprotocol.py), InfluxQL
quoting (influxql.py), the HTTP clients (client.py) and their errors (errors.py).

The collector's sink, the allocator, the local servers and the tests use it; nothing else
builds line protocol or calls InfluxDB's HTTP API.
"""
