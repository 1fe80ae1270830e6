CREATE TABLE "queue_lines" (
	"event_id" integer PRIMARY KEY NOT NULL,
	"joined" integer DEFAULT 0 NOT NULL,
	"prequeued" integer DEFAULT 0 NOT NULL,
	"shuffled_at" timestamp with time zone,
	"admitted_through" integer DEFAULT 0 NOT NULL,
	"admit_credit" double precision DEFAULT 0 NOT NULL,
	"last_tick_at" timestamp with time zone,
	"sold_out" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "queue_tickets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"event_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"position" integer,
	"prequeue" boolean NOT NULL,
	"joined_at" timestamp with time zone DEFAULT now() NOT NULL,
	"admission_token" varchar(64),
	"admitted_at" timestamp with time zone,
	"session_expires_at" timestamp with time zone,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "on_sale_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "queue" jsonb;--> statement-breakpoint
ALTER TABLE "queue_lines" ADD CONSTRAINT "queue_lines_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_tickets" ADD CONSTRAINT "queue_tickets_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "queue_tickets" ADD CONSTRAINT "queue_tickets_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "queue_tickets_event_user_key" ON "queue_tickets" USING btree ("event_id","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "queue_tickets_event_position_key" ON "queue_tickets" USING btree ("event_id","position");--> statement-breakpoint
CREATE UNIQUE INDEX "queue_tickets_admission_token_key" ON "queue_tickets" USING btree ("admission_token");