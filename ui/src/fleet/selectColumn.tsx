import type { Schema } from "../api";
import { channelKey } from "./params";
import { SelectBox } from "./SelectBox";
import type { Selection } from "./useSelection";

type Channel = Schema<"ChannelHealth">;

/** The fleet table's first column while rows can be selected: a tick box per row and one for the page. */
export function selectColumn(selection: Selection, channels: Channel[]) {
  const keys = channels.map(channelKey);
  const ticked = keys.filter((key) => selection.has(key)).length;
  return {
    header: (
      <SelectBox
        testId="wa-select-page"
        label="Select every channel of this page"
        checked={ticked === 0 ? false : ticked === keys.length ? true : "indeterminate"}
        onChange={(on) => selection.setPage(keys, on)}
      />
    ),
    cell: (channel: Channel) => (
      <SelectBox
        testId="wa-select-row"
        label={`Select ${channel.display_phone_number ?? channel.phone_number_id}`}
        checked={selection.has(channelKey(channel))}
        onChange={() => selection.toggle(channelKey(channel))}
      />
    ),
  };
}
