/**
 * Whether (x, y) lies on a dark square of the 4×4 board on [−2, 2)²: square (i, j) = (⌊x + 2⌋, ⌊y + 2⌋), column i
 * and row j in 0 … 3 counted from the bottom-left corner, is dark when i + j is even (so the bottom-left square
 * [−2, −1) × [−2, −1) is dark). Squares are half-open: a point on the board's right or top edge (x = 2 or y = 2) is
 * outside.
 */
export function onDarkSquare(x: number, y: number): boolean {
  if (!(x >= -2 && x < 2 && y >= -2 && y < 2)) return false;
  return ((Math.floor(x + 2) + Math.floor(y + 2)) & 1) === 0;
}
