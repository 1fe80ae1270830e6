ALTER TABLE "bookings" ADD COLUMN "booked_version" integer;--> statement-breakpoint
ALTER TABLE "bookings" ADD COLUMN "cancelled_version" integer;--> statement-breakpoint
ALTER TABLE "seats" ADD COLUMN "version" integer DEFAULT 0 NOT NULL;