"""Geographic routing (docs/config.md "Geographic routing"): clients from different addresses —
a CIDR table in the config, and countries, continents and coordinates in a real MaxMind database
the test writes (tests/tools/make_mmdb) — go to their region's cluster; a region that cannot serve
sends its clients to the next nearest; the decision is in the access log and the metrics."""

import json
import pathlib
import subprocess

from events import admin_status, metric, parse_samples, scrape
from harness import HOST, HttpConnection, free_port, server_entry, wait_until

MAKE_MMDB = pathlib.Path(__file__).resolve().parents[1] / "tools" / "make_mmdb"

BERLIN, NEW_YORK, PARIS, TOKYO = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
LISTED, NOWHERE = "127.0.0.10", "127.0.0.20"  # in the config's table; in nothing

REGIONS = {
    "us-east": {"location": [38.90, -77.04]},   # Washington
    "eu-west": {"location": [53.35, -6.26]},    # Dublin
    "ap-south": {"location": [19.07, 72.88]},   # Mumbai
}


def make_database(tmp_path):
    path = tmp_path / "geo.mmdb"
    subprocess.run([str(MAKE_MMDB), str(path),
                    f"{BERLIN}=DE,EU,52.52,13.40",      # country DE is mapped
                    f"{NEW_YORK}=US,NA,40.71,-74.01",   # US is not; continent NA is
                    f"{PARIS}=FR,EU,48.86,2.35",        # neither: nearest by coordinates
                    f"{TOKYO}=JP,AS,35.68,139.69",      # nearest: Mumbai
                    f"{LISTED}=US,NA,40.71,-74.01"],    # the config's table wins
                   check=True, capture_output=True, timeout=60)
    return path


def geo_proxy(ballast, backends, tmp_path, **top):
    servers = {name: backends.start(name) for name in ("us", "eu", "ap", "default")}
    checked = {"interval": "200ms", "timeout": "200ms", "healthy_threshold": 1,
               "unhealthy_threshold": 1, "start_healthy": True}
    port = free_port()
    log_path = tmp_path / "access.log"
    config = {
        "workers": 2,
        "geo": {
            "database": str(make_database(tmp_path)),
            "networks": {f"{LISTED}/32": "ap-south"},
            "countries": {"DE": "eu-west"},
            "continents": {"NA": "us-east"},
            "regions": REGIONS,
        },
        "listeners": [{"name": "web", "listen": f"{HOST}:{port}", "routes": [
            {"name": "site", "cluster": "default",
             "geo": {"us-east": "us", "eu-west": "eu", "ap-south": "ap"}}]}],
        "clusters": {name: {"servers": [server_entry(server)], "health_check": checked}
                     for name, server in servers.items()},
        "monitoring": {"logging": {"output": str(log_path)}},
        **top,
    }
    return config, ballast.start(config, port), servers, log_path


def served_from(port, source, headers=()):
    """The backend that answered, or the status when ballast answered itself."""
    with HttpConnection(port, source=source) as connection:
        response = connection.request("GET", "/", headers=headers)
        return response.backend if response.status == 200 else response.status


def test_clients_go_to_their_regions_cluster(ballast, backends, tmp_path):
    config, proxy, _, log_path = geo_proxy(ballast, backends, tmp_path)
    assert served_from(proxy.port, BERLIN) == "eu"       # country
    assert served_from(proxy.port, NEW_YORK) == "us"     # continent
    assert served_from(proxy.port, PARIS) == "eu"        # nearest: Dublin
    assert served_from(proxy.port, TOKYO) == "ap"        # nearest: Mumbai
    assert served_from(proxy.port, LISTED) == "ap"       # the table before the database
    assert served_from(proxy.port, NOWHERE) == "default"
    samples = parse_samples(scrape(config))
    served = {region: metric(samples, "ballast_geo_requests_total", listener="web",
                             route="site", region=region)
              for region in ("us-east", "eu-west", "ap-south", "default")}
    assert served == {"us-east": 1, "eu-west": 2, "ap-south": 2, "default": 1}
    [route] = admin_status(config)["edge"]["geo"]
    assert route["served_by_region"] == served
    assert route["failed_over_from"] == {"us-east": 0, "eu-west": 0, "ap-south": 0}

    def lines():
        return [json.loads(line) for line in log_path.read_text().splitlines()
                if '"type":"access"' in line]

    wait_until(lambda: len(lines()) >= 6, 5, "six access lines")
    decided = {(line["client_ip"], line["region"], line["region_by"]) for line in lines()}
    assert decided == {(BERLIN, "eu-west", "country"), (NEW_YORK, "us-east", "continent"),
                       (PARIS, "eu-west", "nearest"), (TOKYO, "ap-south", "nearest"),
                       (LISTED, "ap-south", "network"), (NOWHERE, "default", "none")}


def test_a_region_that_cannot_serve_sends_its_clients_to_the_next_nearest(ballast, backends,
                                                                          tmp_path):
    config, proxy, servers, _ = geo_proxy(ballast, backends, tmp_path)
    servers["eu"].stop()
    # Dublin's next nearest is Washington (5,400 km), not Mumbai (8,300 km).
    wait_until(lambda: served_from(proxy.port, BERLIN) == "us", 10, "Berlin served from us-east")
    assert served_from(proxy.port, PARIS) == "us"
    assert served_from(proxy.port, NEW_YORK) == "us"
    servers["ap"].stop()
    # Mumbai's next nearest would be Dublin (down too), then Washington.
    wait_until(lambda: served_from(proxy.port, TOKYO) == "us", 10, "Tokyo served from us-east")
    samples = parse_samples(scrape(config))
    assert metric(samples, "ballast_geo_failovers_total", listener="web", route="site",
                  region="eu-west") >= 2
    assert metric(samples, "ballast_geo_failovers_total", listener="web", route="site",
                  region="us-east") == 0


def test_a_trusted_proxy_names_the_client(ballast, backends, tmp_path):
    _, proxy, _, _ = geo_proxy(ballast, backends, tmp_path,
                               forwarding={"trusted_proxies": [HOST]})
    assert served_from(proxy.port, HOST, [("X-Forwarded-For", f"10.1.1.1, {TOKYO}")]) == "ap"
    # From anyone else the header is not believed: its own address decides.
    assert served_from(proxy.port, BERLIN, [("X-Forwarded-For", TOKYO)]) == "eu"


def test_check_names_a_database_that_does_not_open(ballast_bin, tmp_path):
    config = tmp_path / "geo.yaml"
    config.write_text(json.dumps({
        "geo": {"database": str(tmp_path / "missing.mmdb"), "regions": REGIONS},
        "listeners": [{"name": "web", "listen": f"{HOST}:{free_port()}",
                       "routes": [{"cluster": "app", "geo": {"eu-west": "app"}}]}],
        "clusters": {"app": {"servers": [{"host": HOST, "port": 1}]}},
    }))
    result = subprocess.run([ballast_bin, "--check", str(config)], capture_output=True,
                            text=True, timeout=10)
    assert result.returncode == 2
    assert "geo.database" in result.stderr and "missing.mmdb" in result.stderr, result.stderr
