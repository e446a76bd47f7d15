// Colours shared by the map renderers, the legend and the charts.
export const NEUTRAL = '#4b5263';
