// Where the page finds its two APIs. The deploy step (python -m recsys.frontend
// deploy) and the local server (python -m recsys.frontend serve) overwrite this
// file with URLs from their settings; these defaults match the local runner.
window.RECSYS_CONFIG = {
  interactUrl: "http://127.0.0.1:5000",
  recsUrl: "http://127.0.0.1:5001",
};
