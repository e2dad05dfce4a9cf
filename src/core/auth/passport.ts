import mongoose from 'mongoose';
import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { findByKeys } from '../keyed-reads.ts';
import { normaliseEmail, toSessionUser, type UserModels } from './users.ts';
import { PASSWORD_MAX_LENGTH, verifyAgainstDummy, verifyPassword } from './password.ts';

/**
 * A passport instance of the app's own (not the global one) with the local e-mail/password strategy.
 * The session holds only the user id; the user is read fresh on each request, so a disabled account
 * or changed roles take effect at once.
 */
export function createPassport({ User, Credential }: UserModels) {
  const passport = new Passport();
  passport.use(
    'local',
    new LocalStrategy({ usernameField: 'email', passwordField: 'password' }, (email, password, done) => {
      (async () => {
        if (password.length > PASSWORD_MAX_LENGTH) return false;
        const user = await User.findOne({ email: normaliseEmail(email) }).lean();
        const credential = user && !user.disabled ? await Credential.findById(user._id).lean() : null;
        if (!user || !credential) return verifyAgainstDummy(password);
        if (!(await verifyPassword(password, credential.passwordHash))) return false;
        // A self-registered account signs in once its address is confirmed (the right password
        // shows the person who chose it that the account exists, nobody else).
        if (user.emailVerified === false) return { unconfirmed: true as const, email: user.email };
        return toSessionUser(user);
      })().then((user) => done(null, user as Express.User | false), done);
    }),
  );
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id: string, done) => {
    if (!mongoose.isValidObjectId(id)) return done(null, false);
    // By key, shared with the other look-ups of this turn: every signed-in request reads its person.
    findByKeys(User, [new mongoose.Types.ObjectId(id)]).then(([doc]) => done(null, doc && !doc.disabled ? toSessionUser(doc) : false), done);
  });
  return passport;
}
