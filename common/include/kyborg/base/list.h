/* Intrusive doubly linked lists in the manner of systemd's list.h: an item
 * holds `prev` and `next` pointers to its own type, a list is a pointer to
 * its first item (NULL when empty). Removal is O(1) and needs no search. */
#pragma once

#include <stddef.h>

/* Puts item first in the list `head` (an lvalue: loop->ios). */
#define KY_LIST_PREPEND(head, item)                     \
	do {                                            \
		__typeof__(head) *_lh_ = &(head);       \
		__typeof__(head) _li_ = (item);         \
		_li_->prev = NULL;                      \
		_li_->next = *_lh_;                     \
		if (*_lh_)                              \
			(*_lh_)->prev = _li_;           \
		*_lh_ = _li_;                           \
	} while (0)

/* Takes item out of the list `head` it is in; its links are cleared. */
#define KY_LIST_REMOVE(head, item)                      \
	do {                                            \
		__typeof__(head) *_lh_ = &(head);       \
		__typeof__(head) _li_ = (item);         \
		if (_li_->prev)                         \
			_li_->prev->next = _li_->next;  \
		else                                    \
			*_lh_ = _li_->next;             \
		if (_li_->next)                         \
			_li_->next->prev = _li_->prev;  \
		_li_->prev = _li_->next = NULL;         \
	} while (0)
