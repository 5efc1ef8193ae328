//! The primary as a process: kill -9 under a multi-connection write load
//! loses no acknowledged commit and leaves no partial transaction; a
//! mysqldump-style file loads with `mysql db < dump.sql`.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;

use super::server::TestServer;
use super::wire::Raw;
use crate::support::{env_var, playing, start_serving_child};

const ROLE: &str = "mysql::primary::child_primary";

/// Child: a primary on FLOE_VOLUME with a short lease, until killed.
#[test]
#[ignore = "child process role"]
fn child_primary() {
    if !playing(ROLE) {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let opts = floe::primary::PrimaryOptions {
            volume: env_var("FLOE_VOLUME").into(),
            listen: floe::role::Listen::loopback(0),
            lease: Some(Duration::from_secs(1)),
            plugins: Default::default(),
        };
        let running = floe::primary::start(&opts).await.unwrap();
        println!();
        println!("PORT {}", running.addr.port());
        running.serve().await.unwrap();
    });
}

#[test]
fn kill_9_under_write_load_loses_no_acknowledged_commit() {
    let dir = tempfile::tempdir().unwrap();
    let volume = dir.path().join("volume");
    let acked: Arc<Mutex<BTreeSet<u64>>> = Arc::default();
    let mut rng = rand::rng();
    for round in 0..10u64 {
        let (mut child, port, drain) = start_serving_child(ROLE, &volume);
        let mut admin = Raw::login(port);
        if round == 0 {
            admin.exec("CREATE DATABASE d").unwrap();
            admin
                .exec("CREATE TABLE d.t (id BIGINT PRIMARY KEY, grp BIGINT NOT NULL)")
                .unwrap();
        }
        // After the restart: every acknowledged transaction is whole and present.
        admin
            .s
            .write_all(&super::wire::query("SELECT grp FROM d.t"))
            .unwrap();
        let rows = admin.result();
        let mut count = std::collections::HashMap::<u64, u32>::new();
        for g in &rows {
            *count.entry(g.parse().unwrap()).or_default() += 1;
        }
        assert!(
            count.values().all(|&c| c == 2),
            "round {round}: a transaction is partial"
        );
        let present: BTreeSet<u64> = count.keys().copied().collect();
        let missing: Vec<u64> = acked
            .lock()
            .unwrap()
            .difference(&present)
            .copied()
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: acknowledged transactions lost: {missing:?}"
        );

        let writers: Vec<_> = (0..6u64)
            .map(|w| {
                let acked = acked.clone();
                std::thread::spawn(move || {
                    let mut c = Raw::login(port);
                    for i in 0..100_000u64 {
                        let g = round * 10_000_000 + w * 1_000_000 + i;
                        let txn = c
                            .exec("BEGIN")
                            .and_then(|()| {
                                c.exec(&format!("INSERT INTO d.t VALUES ({}, {g})", 2 * g))
                            })
                            .and_then(|()| {
                                c.exec(&format!("INSERT INTO d.t VALUES ({}, {g})", 2 * g + 1))
                            })
                            .and_then(|()| c.exec("COMMIT"));
                        match txn {
                            Ok(()) => {
                                acked.lock().unwrap().insert(g);
                            }
                            Err(_) => return,
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.random_range(300..900)));
        child.kill().unwrap();
        child.wait().unwrap();
        for w in writers {
            w.join().unwrap();
        }
        drop(admin);
        drain.join().unwrap();
    }
    assert!(
        acked.lock().unwrap().len() > 50,
        "too few commits to mean anything"
    );
}

#[test]
fn mysqldump_file_loads_through_the_cli() {
    let s = TestServer::start();
    s.query("CREATE DATABASE shop");
    let mut dump = String::from(
        "-- MySQL dump 10.13  Distrib 8.0.36, for Linux (x86_64)\n--\n-- Host: localhost    Database: shop\n\
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n\
/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;\n\
/*!50503 SET NAMES utf8mb4 */;\n\
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n\
/*!40103 SET TIME_ZONE='+00:00' */;\n\
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n\
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n\
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n\n\
DROP TABLE IF EXISTS `orders`;\n\
/*!40101 SET @saved_cs_client     = @@character_set_client */;\n\
/*!50503 SET character_set_client = utf8mb4 */;\n\
CREATE TABLE `orders` (\n  `id` int NOT NULL AUTO_INCREMENT,\n  `customer` varchar(64) NOT NULL,\n  `amount` decimal(12,2) NOT NULL,\n  `created` datetime NOT NULL,\n  `note` text,\n  PRIMARY KEY (`id`),\n  KEY `idx_customer` (`customer`)\n) ENGINE=InnoDB AUTO_INCREMENT=100001 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci;\n\
/*!40101 SET character_set_client = @saved_cs_client */;\n\n\
LOCK TABLES `orders` WRITE;\n/*!40000 ALTER TABLE `orders` DISABLE KEYS */;\n",
    );
    let rows = 100_000u64;
    let (mut sum_cents, mut notes) = (0u64, 0u64);
    let mut id = 1u64;
    while id <= rows {
        dump.push_str("INSERT INTO `orders` VALUES ");
        let mut first = true;
        while id <= rows && (first || !id.is_multiple_of(20_000)) {
            let cents = id * 37 % 100_000;
            sum_cents += cents;
            let note = if id.is_multiple_of(3) {
                notes += 1;
                format!("'it\\'s order {id}, \\\"quoted\\\" 中文'")
            } else {
                "NULL".to_string()
            };
            if !first {
                dump.push(',');
            }
            dump.push_str(&format!(
                "({id},'customer-{}',{}.{:02},'2024-{:02}-{:02} 10:11:12',{note})",
                id % 977,
                cents / 100,
                cents % 100,
                1 + id % 12,
                1 + id % 28
            ));
            first = false;
            id += 1;
        }
        dump.push_str(";\n");
    }
    dump.push_str(
        "/*!40000 ALTER TABLE `orders` ENABLE KEYS */;\nUNLOCK TABLES;\n\
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n\
/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;\n\
-- Dump completed on 2026-11-27 10:00:00\n",
    );
    assert!(dump.len() > 5_000_000);
    let out = s.mysql(&["shop"], &dump);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        s.query("SELECT COUNT(*), SUM(amount), COUNT(note), MAX(id) FROM shop.orders"),
        format!(
            "COUNT(*)\tSUM(amount)\tCOUNT(note)\tMAX(id)\n{rows}\t{}.{:02}\t{notes}\t{rows}\n",
            sum_cents / 100,
            sum_cents % 100
        )
    );
    assert_eq!(
        s.query("SELECT note FROM shop.orders WHERE id = 3"),
        "note\nit's order 3, \"quoted\" 中文\n"
    );
}
