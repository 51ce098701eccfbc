// The bench board's live view: every two seconds, fetch the slots again and draw them in place. A page the
// technician is not looking at stops asking; a lost connection is said in words and retried.
(function () {
  const board = document.getElementById("board");
  const status = document.getElementById("live-status");
  if (!board) return;
  const url = board.dataset.liveUrl;
  let failures = 0;
  async function refresh() {
    if (document.hidden) return;
    try {
      const response = await fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}});
      if (!response.ok) throw new Error(response.status);
      board.innerHTML = await response.text();
      failures = 0;
      status.textContent = "live · " + new Date().toLocaleTimeString();
      status.classList.remove("error");
    } catch (error) {
      failures += 1;
      status.textContent = "✖ not updating (" + error.message + "), retrying";
      status.classList.add("error");
    }
  }
  setInterval(refresh, 2000);
  document.addEventListener("visibilitychange", refresh);
})();
