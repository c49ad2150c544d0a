// room-state.js — what the client knows about the room it is in: the broker's epoch, the last
// seq it has shown (to resume after a reconnect and to drop anything seen twice), and the member
// list. It decides what each server event means; the view only draws the outcome. Pure.

import { sameNickname } from './validate.js';

export class RoomState {
	constructor(roomId) {
		this.roomId = roomId;
		this.name = roomId;
		this.me = null;
		this.epoch = null;
		this.lastSeq = 0; /* highest seq shown in this epoch; 0 = none */
		this.joinedSeq = 0; /* seq of the latest joined reply; events from it on change members */
		this.members = []; /* nicknames in the order the server gave them */
		this.joinCount = 0;
		this.gapAfter = null; /* last seq shown before an unrecovered join, until the next event */
	}

	/* since/epoch for the next connection, so the server sends exactly what was missed. */
	resumeParams() {
		return this.epoch !== null && this.lastSeq > 0 ? { since: this.lastSeq, epoch: this.epoch } : {};
	}

	/* A "joined" reply. Returns {first, epochChanged, lost}: lost is true when this was a reconnect
	 * (or a re-sync after a broker restart) into a new epoch, whose history cannot continue ours.
	 * With the same epoch and "recovered": false, the client checks for itself: the next event
	 * with a seq shows whether anything is missing (see event). */
	joined(msg) {
		const first = this.joinCount === 0;
		this.joinCount += 1;
		const epochChanged = this.epoch !== null && msg.epoch !== this.epoch;
		const lastSeen = this.lastSeq;
		if (epochChanged) this.lastSeq = 0; /* a new broker numbers from 0 again */
		this.epoch = typeof msg.epoch === 'string' ? msg.epoch : this.epoch;
		if (typeof msg.name === 'string' && msg.name !== '') this.name = msg.name;
		this.joinedSeq = Number.isInteger(msg.seq) ? msg.seq : 0;
		this.members = Array.isArray(msg.users) ? msg.users.filter((u) => typeof u === 'string') : [];
		this.gapAfter = null;
		let lost = false;
		if (!first && msg.recovered === false) {
			if (epochChanged) lost = true;
			else if (lastSeen > 0) this.gapAfter = lastSeen;
		}
		return { first, epochChanged, lost };
	}

	/* A room event with a seq (message, join, leave, room_deleted). Returns null when it was already
	 * shown, else {live, gap}: live is false for history replayed in front of the joined reply;
	 * gap is true when this is the first event after an unrecovered join and events between the
	 * last one shown and this one are missing. Members change only on live events; the joined
	 * reply already holds the state as of its seq. */
	event(msg) {
		if (!Number.isInteger(msg.seq)) return { live: true, gap: false };
		let gap = false;
		if (this.gapAfter !== null) {
			gap = msg.seq > this.gapAfter + 1;
			this.gapAfter = null;
		}
		if (msg.seq <= this.lastSeq) return null;
		this.lastSeq = msg.seq;
		const live = msg.seq >= this.joinedSeq;
		if (live) {
			if (msg.type === 'join' && typeof msg.user === 'string') this.addMember(msg.user);
			if (msg.type === 'leave' && typeof msg.user === 'string') this.removeMember(msg.user);
		}
		return { live, gap };
	}

	addMember(user) {
		if (!this.members.some((m) => sameNickname(m, user))) this.members.push(user);
	}

	removeMember(user) {
		this.members = this.members.filter((m) => !sameNickname(m, user));
	}

	isMe(user) {
		return sameNickname(user, this.me);
	}
}
