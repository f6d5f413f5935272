// A virtualised data grid: only the rows in view (plus a few) exist in the DOM, so 100,000 rows scroll like 100.
// Rows not loaded yet render as fixed-height placeholders (no layout shift when they arrive); the grid tells its
// owner which range is in view so it can fetch those pages.
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useRef, type ReactNode } from 'react';

export interface GridColumn { name: string; type?: string; width?: number; label?: ReactNode }
const ROW_HEIGHT = 32;

export function Grid<R>({ columns, rowCount, getRow, renderCell, onRange, sort, onSort, onRowOpen, height = 480, label, rowKey }: {
  columns: GridColumn[];
  rowCount: number;
  getRow: (index: number) => R | undefined;
  renderCell: (row: R, col: GridColumn) => ReactNode;
  onRange?: (start: number, end: number) => void;
  sort?: { column: string; ascending: boolean };
  onSort?: (column: string) => void;
  onRowOpen?: (row: R, index: number) => void;
  height?: number | string;
  label: string;
  rowKey?: (row: R, index: number) => string;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  // Rows are all one height (no measuring); scroll updates render with React's batching, not synchronously.
  const v = useVirtualizer({ count: rowCount, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 12, useFlushSync: false });
  const items = v.getVirtualItems();
  const first = items[0]?.index ?? 0, last = items.at(-1)?.index ?? 0;
  useEffect(() => { onRange?.(first, last); }, [first, last, onRange]);
  const widths = columns.map((c) => c.width ?? 180);
  const template = `72px ${widths.map((w) => `${w}px`).join(' ')}`;
  const total = 72 + widths.reduce((a, b) => a + b, 0);
  return (
    <div className="grid" role="grid" aria-label={label} aria-rowcount={rowCount + 1} aria-colcount={columns.length + 1}>
      <div ref={scroller} className="grid-scroll" style={{ height }} tabIndex={0} data-testid="grid-scroll">
        <div className="grid-head" role="row" style={{ gridTemplateColumns: template, width: total }}>
          <div role="columnheader" className="grid-cell num">#</div>
          {columns.map((c) => (
            <div key={c.name} role="columnheader" className="grid-cell"
              aria-sort={sort?.column === c.name ? (sort.ascending ? 'ascending' : 'descending') : undefined}>
              {onSort ? (
                <button type="button" className="linkish" onClick={() => onSort(c.name)} title={`Sort by ${c.name}`}>
                  {c.label ?? c.name}{sort?.column === c.name ? (sort.ascending ? ' ▲' : ' ▼') : ''}
                </button>
              ) : (c.label ?? c.name)}
              {c.type ? <span className="col-type">{c.type}</span> : null}
            </div>
          ))}
        </div>
        <div style={{ height: v.getTotalSize(), width: total, position: 'relative' }}>
          {items.map((it) => {
            const row = getRow(it.index);
            return (
              <div key={row && rowKey ? rowKey(row, it.index) : it.index} role="row" aria-rowindex={it.index + 2} className={`grid-row${it.index % 2 ? ' odd' : ''}`}
                style={{ transform: `translateY(${it.start}px)`, gridTemplateColumns: template, width: total }}
                onDoubleClick={row && onRowOpen ? () => onRowOpen(row, it.index) : undefined}>
                <div role="rowheader" className="grid-cell num">
                  {row && onRowOpen ? <button type="button" className="linkish" aria-label={`Edit row ${it.index + 1}`} onClick={() => onRowOpen(row, it.index)}>{it.index + 1}</button> : it.index + 1}
                </div>
                {columns.map((c) => <div key={c.name} role="gridcell" className="grid-cell">{row ? renderCell(row, c) : <span className="cell-skeleton" />}</div>)}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}

/** A cell's text: JSON for objects, a visible marker for NULL. */
export function cellText(v: unknown): ReactNode {
  if (v === null || v === undefined) return <span className="null">NULL</span>;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
