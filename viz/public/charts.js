// Small hand-drawn line charts on a canvas (no library: a few step lines and axes).
export function drawChart(canvas, { title, series, tMin, tMax, marker }) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 300;
  const h = canvas.clientHeight || 110;
  if (canvas.width !== Math.floor(w * dpr)) canvas.width = Math.floor(w * dpr);
  if (canvas.height !== Math.floor(h * dpr)) canvas.height = Math.floor(h * dpr);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  const left = 34;
  const right = 6;
  const top = 14;
  const bottom = 14;
  let vMax = 1;
  for (const s of series) for (const p of s.points) vMax = Math.max(vMax, p.v);
  const span = Math.max(1, tMax - tMin);
  const x = (t) => left + ((t - tMin) / span) * (w - left - right);
  const y = (v) => h - bottom - (v / vMax) * (h - top - bottom);
  ctx.font = '10px system-ui, sans-serif';
  ctx.fillStyle = '#7b8496';
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(title, left, 0);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  ctx.fillText(String(vMax), left - 4, top);
  ctx.fillText('0', left - 4, h - bottom);
  ctx.textBaseline = 'top';
  ctx.textAlign = 'left';
  ctx.fillText(`tick ${tMin}`, left, h - bottom + 2);
  ctx.textAlign = 'right';
  ctx.fillText(`${tMax}`, w - right, h - bottom + 2);
  ctx.strokeStyle = '#2a3346';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left, top);
  ctx.lineTo(left, h - bottom);
  ctx.lineTo(w - right, h - bottom);
  ctx.stroke();
  ctx.lineWidth = 1.5;
  for (const s of series) {
    const pts = s.points.filter((p) => p.t >= tMin && p.t <= tMax);
    if (pts.length === 0) continue;
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    ctx.moveTo(x(pts[0].t), y(pts[0].v));
    for (let i = 1; i < pts.length; i++) {
      ctx.lineTo(x(pts[i].t), y(pts[i - 1].v)); // steps: a count holds until it changes
      ctx.lineTo(x(pts[i].t), y(pts[i].v));
    }
    ctx.stroke();
  }
  if (marker !== null && marker !== undefined && marker >= tMin && marker <= tMax) {
    ctx.strokeStyle = '#ffffff';
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(x(marker), top);
    ctx.lineTo(x(marker), h - bottom);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
