CREATE TABLE "booking_requests" (
	"id" uuid PRIMARY KEY NOT NULL,
	"kind" varchar(8) NOT NULL,
	"user_id" integer NOT NULL,
	"event_id" integer NOT NULL,
	"seat_ids" integer[] NOT NULL,
	"booking_ids" integer[],
	"status" varchar(16) NOT NULL,
	"reason" varchar(32),
	"offending_ids" integer[],
	"requested_at" timestamp with time zone NOT NULL,
	"decided_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "booking_requests_user_id_idx" ON "booking_requests" USING btree ("user_id");