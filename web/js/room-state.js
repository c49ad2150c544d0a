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
	}

	/* since/epoch for the next connection, so the server sends exactly what was missed. */
	resumeParams() {
		return this.epoch !== null && this.lastSeq > 0 ? { since: this.lastSeq, epoch: this.epoch } : {};
	}

	/* A "joined" reply. Returns {first, epochChanged, lost}: lost is true when this was a reconnect
	 * and the server could not send everything that was missed. */
	joined(msg) {
		const first = this.joinCount === 0;
		this.joinCount += 1;
		const epochChanged = this.epoch !== null && msg.epoch !== this.epoch;
		if (epochChanged) this.lastSeq = 0; /* a new broker numbers from 0 again */
		this.epoch = typeof msg.epoch === 'string' ? msg.epoch : this.epoch;
		if (typeof msg.name === 'string' && msg.name !== '') this.name = msg.name;
		this.joinedSeq = Number.isInteger(msg.seq) ? msg.seq : 0;
		this.members = Array.isArray(msg.users) ? msg.users.filter((u) => typeof u === 'string') : [];
		return { first, epochChanged, lost: !first && msg.recovered === false };
	}

	/* A room event with a seq (message, join, leave, room_deleted). Returns null when it was already
	 * shown, else {live}: live is false for history replayed in front of the joined reply. Members
	 * change only on live events; the joined reply already holds the state as of its seq. */
	event(msg) {
		if (!Number.isInteger(msg.seq)) return { live: true };
		if (msg.seq <= this.lastSeq) return null;
		this.lastSeq = msg.seq;
		const live = msg.seq >= this.joinedSeq;
		if (live) {
			if (msg.type === 'join' && typeof msg.user === 'string') this.addMember(msg.user);
			if (msg.type === 'leave' && typeof msg.user === 'string') this.removeMember(msg.user);
		}
		return { live };
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
