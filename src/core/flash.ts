import type { NextFunction, Request, Response } from 'express';

export type FlashType = 'success' | 'info' | 'error';
export interface FlashMessage {
  type: FlashType;
  message: string;
}

declare module 'express-session' {
  interface SessionData {
    flash?: FlashMessage[];
  }
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Queues a message shown once, on the next page rendered for this person (after a redirect). */
      flash(type: FlashType, message: string): void;
    }
  }
}

/** Messages are taken from the session only when a page is actually rendered, so a redirect keeps them. */
export function flashMiddleware(req: Request, res: Response, next: NextFunction) {
  req.flash = (type, message) => {
    if (!req.session) return;
    (req.session.flash ??= []).push({ type, message });
  };
  res.locals.takeFlash = (): FlashMessage[] => {
    const messages = req.session?.flash ?? [];
    if (req.session?.flash) delete req.session.flash;
    return messages;
  };
  next();
}
